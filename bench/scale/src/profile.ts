/** What a `.cpuprofile` says: where the self time goes, by function, by package, and charged to Patchbay's own functions. */
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { repoRoot } from '@patchbay/testing';

/** Self time by function from a .cpuprofile (the top fifteen, with repo-relative locations), and by package. */
export function hotSpots(file: string): { top: { percent: number; fn: string; where: string }[]; packages: { percent: number; name: string }[]; callers: { percent: number; name: string }[] } {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as { nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; hitCount?: number; children?: number[] }[] };
  const parents = new Map<number, (typeof profile.nodes)[number]>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parents.set(c, n);
  const byCaller = new Map<string, number>();
  const total = profile.nodes.reduce((s, n) => s + (n.hitCount ?? 0), 0);
  const byFn = new Map<string, { hits: number; fn: string; where: string }>();
  const byPackage = new Map<string, number>();
  for (const n of profile.nodes) {
    const { functionName, url, lineNumber } = n.callFrame;
    const path = url.startsWith('file://') ? relative(repoRoot, fileURLToPath(url)) : url || '(native)';
    const pkg = /^(packages|apps)\/[^/]+/.exec(path)?.[0] ?? /node_modules\/(@[^/]+\/)?[^/]+/.exec(path)?.[0] ?? (path.startsWith('node:') ? 'node internals' : url ? path : `(native) ${functionName}`);
    byPackage.set(pkg, (byPackage.get(pkg) ?? 0) + (n.hitCount ?? 0));
    // Native and library time charged to the nearest Patchbay function above it (writev → the ws adapter's send).
    let up: (typeof profile.nodes)[number] | undefined = n;
    while (up && !/\/(packages|apps)\//.test(up.callFrame.url)) up = parents.get(up.id);
    if (up && n.hitCount) {
      const at = relative(repoRoot, fileURLToPath(up.callFrame.url));
      const key = `${up.callFrame.functionName || '(anonymous)'} ${at}:${up.callFrame.lineNumber + 1}`;
      byCaller.set(key, (byCaller.get(key) ?? 0) + n.hitCount);
    }
    const fn = functionName || '(anonymous)';
    const key = `${fn} ${path}`;
    const entry = byFn.get(key) ?? { hits: 0, fn, where: url ? `${path}:${lineNumber + 1}` : path };
    entry.hits += n.hitCount ?? 0;
    byFn.set(key, entry);
  }
  const top = [...byFn.values()]
    .sort((a, b) => b.hits - a.hits)
    .slice(0, 15)
    .map((e) => ({ percent: (e.hits / total) * 100, fn: e.fn, where: e.where }));
  const packages = [...byPackage]
    .sort((a, b) => b[1] - a[1])
    .slice(0, 12)
    .map(([name, hits]) => ({ percent: (hits / total) * 100, name }));
  const callers = [...byCaller]
    .sort((a, b) => b[1] - a[1])
    .slice(0, 12)
    .map(([name, hits]) => ({ percent: (hits / total) * 100, name }));
  return { top, packages, callers };
}
