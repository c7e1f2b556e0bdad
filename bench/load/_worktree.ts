/**
 * A detached checkout of a commit under `bench/out/`, with this checkout's
 * `node_modules` linked in, optionally with a patch applied: the committed
 * side of `ab.ts`, and the patched build of `experiments/ws_gap.ts`.
 *
 * @module
 */

const ROOT = new URL("../../", import.meta.url).pathname;

/**
 * Runs git in this checkout.
 *
 * @param args git's arguments.
 * @returns Its stdout, trimmed.
 * @throws {Error} When git fails, with its stderr.
 */
async function git(...args: string[]): Promise<string> {
  const out = await new Deno.Command("git", { args, cwd: ROOT, stdout: "piped", stderr: "piped" })
    .output();
  if (!out.success) {
    throw new Error(`git ${args.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
  }
  return new TextDecoder().decode(out.stdout).trim();
}

/** A checkout made by {@linkcode checkout}. */
export interface Worktree {
  /** Its directory, ending in `/`. */
  path: string;
  /** The commit checked out, abbreviated. */
  sha: string;
  /** Removes the checkout (and the patch's changes with it). */
  remove(): Promise<void>;
}

/**
 * Checks `ref` out at `bench/out/<prefix>-<sha>/`, replacing a checkout an
 * interrupted run left there, and links this checkout's `node_modules` in.
 *
 * @param ref A commit, branch or tag.
 * @param prefix The directory name's start.
 * @param patch A patch file to apply to the checkout (`git apply`).
 * @returns The checkout.
 */
export async function checkout(ref: string, prefix: string, patch?: string): Promise<Worktree> {
  const sha = await git("rev-parse", "--short", ref);
  const path = `${ROOT}bench/out/${prefix}-${sha}/`;
  await git("worktree", "remove", "--force", path).catch(() => {});
  await git("worktree", "prune");
  await git("worktree", "add", "--force", "--detach", path, sha);
  const remove = () => git("worktree", "remove", "--force", path).then(() => {});
  try {
    if (patch !== undefined) await git("-C", path, "apply", patch);
    await Deno.symlink(`${ROOT}node_modules`, `${path}node_modules`);
  } catch (error) {
    await remove();
    throw error;
  }
  return { path, sha, remove };
}
