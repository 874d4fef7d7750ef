export * from './recipe.js';
export * from './plan.js';
export * from './build.js';
export { applyConventions, TMPFILES_VAR, FACTORY_VAR, type ComposeNote } from './conventions.js';
export { globToRegExp, type Runner } from './stage.js';
export { fileRecipeReader } from './reader.js';
