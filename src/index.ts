/**
 * ostree-ts as a library: the documented entry point of the package. A
 * Node.js program opens or creates repositories, commits directories and
 * tarballs, signs, publishes summaries, adds remotes and pulls, deploys into
 * a sysroot and reads the host's status, without spawning the CLI. Modules
 * below are internal; what is not exported here may change without notice.
 */
export { Codes, InternalError, OstreeTsError, isCodedError, type ErrorData } from './errors/index.js';

export {
  Repo, REPO_MODES, parseMode, type RepoMode,
  commitTree, type CommitOptions, type CommitResult, type TreeSource,
  checkout, type CheckoutOptions,
  fsck, type FsckOptions, type FsckReport,
  prune,
  readRef, resolveRev, listRefs,
  regenerateSummary, type RegenerateOptions,
} from './repo/index.js';

export {
  generateSecretKey, encodePublicKey, encodeSecretKey, parsePublicKey, parseSecretKey, type Ed25519SecretKey,
  loadSigningKey, loadPublicKeys,
  signCommit, signSummary, type Signer,
  remotePolicy, verifyCommit, verifySignatures, type VerifyPolicy, type VerifyResult,
} from './sign/index.js';

export { addRemote, pull, type PullOptions, type PullResult, type RemoteOptions } from './transport/index.js';

export { deploy, initFs, osInit, loadSysroot, openSysrootRepo, withSysrootLock, type Deployment, type DeployOptions, type DeployResult, type SysrootState } from './sysroot/index.js';

export { hostStatus, renderHostStatus, upgrade, rollback, type HostStatus, type DeploymentStatus, type UpdateResult, type RollbackResult } from './host/index.js';

/** Boot assessment: health checks, the early-boot reconcile, a simulated boot, the quarantine, atomic.conf. */
export {
  healthCheck, bootReconcile, simulateBoot, listQuarantine, clearQuarantine, readAtomicConfig, installUnits,
  type HealthCheckResult, type ReconcileResult, type SimulatedBoot, type QuarantineEntry, type AtomicConfig,
} from './host/index.js';

/** The machine this runs on, as the sysroot and host functions see it (what booted, the clock, free space, root). */
export { nodeHostEnv, type HostEnv } from './io/index.js';

/** Recipes: a YAML file to a signed, reproducible commit. */
export { compose, loadRecipe, buildPlan, renderPlan, fileRecipeReader, type Recipe, type BuildPlan, type ComposeOptions, type ComposeResult } from './compose/index.js';
