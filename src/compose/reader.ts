/** Recipe files from disk: paths in a recipe are relative to the directory of the file that names them. */
import { fsp, path } from '../io/fs.js';
import type { RecipeReader } from './recipe.js';

export function fileRecipeReader(): RecipeReader {
  return {
    read: (file) => fsp.readFile(file, 'utf8'),
    resolve: (from, p) => path.resolve(path.dirname(from), p),
  };
}
