// The Markdown report: one table with the figures, the goals and pass/fail, then the machine.
import { mib, ms, ratio, us } from './stats.mjs';

const verdict = (pass) => (pass ? 'pass' : '**FAIL**');

/** @param {any} r the results object written to latest.json */
export function renderMarkdown(r) {
  const m = r.machine;
  return [
    `## simian bench, ${r.startedAt} (${r.durationS} s)${r.only ? `, only ${r.only} (BENCH_ONLY)` : ''}`,
    '',
    ...(r.roundTrip ? renderCore(r) : []),
    ...(r.proxy ? renderProxy(r.proxy) : []),
    `Machine: ${m.cpus} CPUs (${m.cpuModel}), ${m.platform}, Node ${m.node}, Docker Engine ${m.docker}.`,
    '',
  ].join('\n');
}

/** (a), (b), memory and diagnostics. */
function renderCore(r) {
  const rows = ['| Figure | simian | baseline | ratio | goal | result |', '|---|---:|---:|---:|---|---|'];
  if (r.kill) {
    const { simian, direct } = r.kill;
    rows.push(
      `| (a) Kill latency, median: decide to inject → container dead (n=${r.kill.iterations} each, interleaved) | ${ms(simian.deadMs.p50)} | ${ms(direct.deadMs.p50)} (dockerode \`kill()\`) | ${ratio(r.kill.ratio)} | ≤ ${r.goals.killRatio}× | ${verdict(r.kill.pass)} |`,
      `| (a) Kill latency, p90 | ${ms(simian.deadMs.p90)} | ${ms(direct.deadMs.p90)} | ${ratio(simian.deadMs.p90 / direct.deadMs.p90)} | — | info |`,
      `| (a) Kill latency, min / max | ${ms(simian.deadMs.min)} / ${ms(simian.deadMs.max)} | ${ms(direct.deadMs.min)} / ${ms(direct.deadMs.max)} | — | — | info |`,
      `| (a) simian: decide to inject → agent sends the host signal, median / p90 | ${ms(simian.signalSentMs.p50)} / ${ms(simian.signalSentMs.p90)} | — | — | — | info |`,
      `| (a) Reply received, median (\`injected\` / kill API returned) | ${ms(simian.ackMs.p50)} | ${ms(direct.ackMs.p50)} | — | — | info |`,
    );
  } else {
    rows.push(`| (a) Kill latency | SKIPPED | ${r.killSkipped} | — | ≤ ${r.goals.killRatio}× | skipped |`);
  }
  const rt = r.roundTrip;
  rows.push(
    `| (b) Round trip p50: noop inject → \`injected\` vs \`ws\` echo (n=${rt.samples} each, ${rt.frameBytes} B frames) | ${us(rt.simianMs.p50)} | ${us(rt.echoMs.p50)} | ${ratio(rt.ratioP50)} | ≤ ${r.goals.roundTripP50Ratio}× | ${verdict(rt.pass)} |`,
    `| (b) Round trip p99 | ${us(rt.simianMs.p99)} | ${us(rt.echoMs.p99)} | ${ratio(rt.ratioP99)} | — | info |`,
    `| Bench process RSS after the runs (orchestrator + in-process agent, after GC) | ${mib(r.memory.afterRuns.rss)} | ${mib(r.memory.atStart.rss)} at start | — | — | info |`,
    `| Bench process heap used after the runs (after GC) | ${mib(r.memory.afterRuns.heapUsed)} | ${mib(r.memory.atStart.heapUsed)} at start | — | — | info |`,
  );
  const d = r.diagnostics;
  const mean = (summary) => (summary ? ms(summary.mean, 3) : 'n/a');
  const diagnostics = [];
  if (r.kill?.agentStagesMs) {
    const k = r.kill.agentStagesMs;
    diagnostics.push(
      `- Kill, inside the agent (means): ledger record ${mean(k.ledgerRecord)}, then docker driver apply (inspect + host signal) ${mean(k.dockerApply)}, then ledger remove ${mean(k.ledgerRemove)} before the reply; decide → signal sent: mean ${ms(r.kill.simian.signalSentMs.mean)}, p50 ${ms(r.kill.simian.signalSentMs.p50)}.`,
    );
  }
  diagnostics.push(
    `- Command path with no agent I/O (\`renew\` of no faults, n=${d.renewRoundTripMs.n}): p50 ${us(d.renewRoundTripMs.p50)}, p99 ${us(d.renewRoundTripMs.p99)}; echo measured alongside p50 ${us(d.echoAlongsideRenewMs.p50)} (${ratio(d.renewRoundTripMs.p50 / d.echoAlongsideRenewMs.p50)}).`,
    `- Frame decoding (JSON.parse + zod), p50: inject ${us(d.decodeMs.injectFrame.p50)} (JSON.parse alone ${us(d.decodeMs.injectJsonParseOnly.p50)}), injected reply ${us(d.decodeMs.injectedFrame.p50)}.`,
  );
  for (const [where, n] of [
    [`ledger on ${d.ledgerFilesystem}`, d.noopStagesOnDiskMs],
    ['ledger on tmpfs', d.noopStagesOnTmpfsMs],
  ]) {
    if (!n) continue;
    diagnostics.push(
      `- Noop, ${where} (n=${n.roundTrip.n}, means, which add up): round trip ${us(n.roundTrip.mean)} (p50 ${us(n.roundTrip.p50)}), of which the agent's FaultRunner.apply ${us(n.runnerApply.mean)} = ledger record ${us(n.ledgerRecord.mean)} + process driver apply (/proc re-read) ${us(n.processApply.mean)} + ledger remove ${us(n.ledgerRemove.mean)} + the rest.`,
    );
  }
  if (r.kill?.agentDetail) diagnostics.push(`- Agent's kill detail: "${r.kill.agentDetail}".`);
  return [...rows, '', 'Diagnostics (informational):', '', ...diagnostics, ''];
}

/** (c) the fault proxy against a direct connection and HAProxy. */
function renderProxy(p) {
  const mbps = (side) => (side ? `${side.medianMBps.toFixed(0)} MB/s` : 'not measured');
  const cpu = (seconds) => (Number.isFinite(seconds) ? `${seconds.toFixed(2)} s` : 'n/a');
  const result = (pass) => (pass === undefined ? 'not measured' : verdict(pass));
  const t = p.throughput;
  const rt = p.roundTrip;
  const haproxyName = p.haproxy.version ? p.haproxy.version.replace(/ - .*/, '') : 'HAProxy';
  const rows = [
    `### (c) Fault proxy (own process) vs a direct connection and ${haproxyName} (${p.haproxy.config ?? p.haproxy.skipped})`,
    '',
    '| Figure | fault proxy | direct | HAProxy | goal | result |',
    '|---|---:|---:|---:|---|---|',
    `| (c) Throughput, 1 GiB upstream → client, median of ${t.rounds} interleaved | ${mbps(t.faultProxy)} | ${mbps(t.direct)} | ${mbps(t.haproxy)} | ≥ HAProxy (${ratio(t.ratioVsHaproxy)}) | ${result(t.pass)} |`,
    `| (c) Relay CPU time per GiB (median) | ${cpu(t.cpuSecondsPerGiB.faultProxy)} | — | ${cpu(t.cpuSecondsPerGiB.haproxy)} | — | info |`,
    `| (c) Round trip p50, 64 B ping-pong on one connection (n=${rt.samples} each), zero delay | ${us(rt.ms.faultProxy.p50)} | ${us(rt.ms.direct.p50)} | ${rt.ms.haproxy ? us(rt.ms.haproxy.p50) : 'not measured'} | added ≤ ${p.goals.addedRoundTripUs} µs (${rt.addedRoundTripUs.toFixed(0)} µs) | ${verdict(rt.pass)} |`,
    `| (c) Round trip p99 | ${us(rt.ms.faultProxy.p99)} | ${us(rt.ms.direct.p99)} | ${rt.ms.haproxy ? us(rt.ms.haproxy.p99) : 'not measured'} | — | info |`,
  ];
  for (const a of p.accuracy) {
    rows.push(
      `| (c) Injected ${a.delayMs} ms: \\|RTT − direct p50 − delay\\| p50 / p99 (n=${a.samples}, ${a.connections} connections, direct driven alike) | ${ms(a.absErrorMs.p50, 3)} / ${ms(a.absErrorMs.p99, 3)} | RTT p50 ${ms(a.directMs.p50, 3)}, p99 ${ms(a.directMs.p99, 3)} | — | ≤ ${p.goals.accuracyP50Ms} ms / ≤ ${p.goals.accuracyP99Ms} ms | ${verdict(a.pass)} |`,
      `| (c) Injected ${a.delayMs} ms: RTT − delay at p50 / p99 (shift over direct at the same percentile) | ${ms(a.viaProxyMs.p50 - a.delayMs, 3)} / ${ms(a.viaProxyMs.p99 - a.delayMs, 3)} (${ms(a.percentileShiftMs.p50, 3)} / ${ms(a.percentileShiftMs.p99, 3)}) | — | — | — | info |`,
      `| (c) Injected ${a.delayMs} ms: the proxy's own lateness, due time → sent, p50 / p99 / max (n=${a.proxyLatenessMs?.count ?? 'n/a'}, warm-up included) | ${a.proxyLatenessMs ? `${ms(a.proxyLatenessMs.p50, 3)} / ${ms(a.proxyLatenessMs.p99, 3)} / ${ms(a.proxyLatenessMs.max, 3)}` : 'n/a'} | — | — | — | info |`,
      `| (c) Injected ${a.delayMs} ms: signed error p50 / max; \\|error\\| p50 / p99 against the busy direct p50 instead; fault proxy CPU | ${ms(a.signedErrorMs.p50, 3)} / ${ms(a.signedErrorMs.max, 3)}; ${ms(a.absErrorVsBusyDirectMs.p50, 3)} / ${ms(a.absErrorVsBusyDirectMs.p99, 3)}; CPU ${a.proxyCpuPercent.toFixed(0)}% | — | — | — | info |`,
    );
  }
  return [...rows, ''];
}
