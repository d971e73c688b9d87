import { execFile } from 'node:child_process';

let detected: Promise<boolean> | undefined;

/**
 * Whether this kernel has sch_netem: a netem qdisc is added to the loopback of a private,
 * throwaway network namespace (`unshare -n`), so nothing outside it is touched. Checked once.
 */
export function netemAvailable(): Promise<boolean> {
  detected ??= new Promise((resolve) => {
    execFile(
      'unshare',
      ['-n', 'tc', 'qdisc', 'add', 'dev', 'lo', 'root', 'netem', 'delay', '1ms'],
      { timeout: 5_000 },
      (error) => resolve(error === null),
    );
  });
  return detected;
}

/** Whether `nft` runs here with the rights to read the ruleset (root or CAP_NET_ADMIN). */
export function nftablesAvailable(): Promise<boolean> {
  return new Promise((resolve) => {
    execFile('nft', ['list', 'tables'], { timeout: 5_000 }, (error) => resolve(error === null));
  });
}

/** How proxy-based faults are made, for the journal. */
export async function proxyMechanism(): Promise<string> {
  return (await netemAvailable())
    ? 'proxy+nftables (sch_netem is available, but simian uses its proxy on every kernel)'
    : 'proxy+nftables (sch_netem is not in this kernel)';
}
