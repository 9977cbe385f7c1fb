import { type ChildProcess, execFile, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { assertRedisServerOnPath, freePort, stopChild, waitForPong } from './redis-server';

const run = promisify(execFile);

/** Redis the way production runs it, started by a test on free ports and stopped afterwards. */
export interface RedisTopology {
  /** host:port of each node (masters first, for a cluster). */
  readonly nodes: ReadonlyArray<{ host: string; port: number }>;
  stop(): Promise<void>;
}

export interface RedisClusterTopology extends RedisTopology {
  /** Node processes by port, so a test can stop or pause one. */
  readonly processes: ReadonlyMap<number, ChildProcess>;
}

/** Ports below 55536, each with its own free cluster-bus port (redis would otherwise use port + 10000). */
async function freePorts(count: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < count) ports.add(await freePort());
  return [...ports];
}

function spawnRedis(args: string[]): ChildProcess {
  return spawn('redis-server', ['--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', ...args], { stdio: 'ignore' });
}

async function stopAll(children: Iterable<ChildProcess>, dir: string): Promise<void> {
  await Promise.all([...children].map((child) => stopChild(child)));
  rmSync(dir, { recursive: true, force: true });
}

/**
 * A Redis Cluster of six `redis-server --cluster-enabled yes` processes (3 masters, 3 replicas)
 * joined with `redis-cli --cluster create`. Resolves once every node reports `cluster_state:ok`.
 */
export async function startRedisCluster(options: { extraArgs?: string[] } = {}): Promise<RedisClusterTopology> {
  assertRedisServerOnPath();
  const dir = mkdtempSync(join(tmpdir(), 'redis-cluster-'));
  const ports = await freePorts(12);
  const nodePorts = ports.slice(0, 6);
  const processes = new Map<number, ChildProcess>();
  try {
    nodePorts.forEach((port, i) => {
      const child = spawnRedis([
        '--port',
        String(port),
        '--cluster-enabled',
        'yes',
        '--cluster-port',
        String(ports[6 + i]),
        '--cluster-config-file',
        join(dir, `nodes-${port}.conf`),
        '--cluster-node-timeout',
        '2000',
        '--dir',
        dir,
        ...(options.extraArgs ?? []),
      ]);
      processes.set(port, child);
    });
    await Promise.all(nodePorts.map((port) => waitForPong(port)));
    await run('redis-cli', ['--cluster', 'create', ...nodePorts.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '1', '--cluster-yes']);
    const deadline = Date.now() + 20_000;
    for (const port of nodePorts) {
      while (!(await run('redis-cli', ['-p', String(port), 'cluster', 'info'])).stdout.includes('cluster_state:ok')) {
        if (Date.now() > deadline) throw new Error(`Redis Cluster node ${port} never reached cluster_state:ok`);
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  } catch (error) {
    await stopAll(processes.values(), dir);
    throw error;
  }
  return {
    nodes: nodePorts.map((port) => ({ host: '127.0.0.1', port })),
    processes,
    stop: () => stopAll(processes.values(), dir),
  };
}

export interface RedisSentinelTopology extends RedisTopology {
  readonly masterName: string;
  readonly master: { port: number; process: ChildProcess };
  readonly replica: { port: number; process: ChildProcess };
  /** host:port of the three sentinels. */
  readonly sentinels: ReadonlyArray<{ host: string; port: number }>;
}

/**
 * One master, one replica and three sentinels (`redis-server <conf> --sentinel`), quorum 2, a
 * master seen down after 1 s. Resolves once every sentinel knows the replica.
 */
export async function startRedisSentinel(masterName = 'mymaster'): Promise<RedisSentinelTopology> {
  assertRedisServerOnPath();
  const dir = mkdtempSync(join(tmpdir(), 'redis-sentinel-'));
  const [masterPort, replicaPort, ...sentinelPorts] = await freePorts(5);
  const children: ChildProcess[] = [];
  try {
    const master = spawnRedis(['--port', String(masterPort), '--dir', dir]);
    children.push(master);
    const replica = spawnRedis(['--port', String(replicaPort), '--dir', dir, '--replicaof', '127.0.0.1', String(masterPort)]);
    children.push(replica);
    await Promise.all([waitForPong(masterPort), waitForPong(replicaPort)]);
    for (const port of sentinelPorts) {
      const conf = join(dir, `sentinel-${port}.conf`);
      writeFileSync(
        conf,
        [
          `port ${port}`,
          'bind 127.0.0.1',
          `dir ${dir}`,
          `sentinel monitor ${masterName} 127.0.0.1 ${masterPort} 2`,
          `sentinel down-after-milliseconds ${masterName} 1000`,
          `sentinel failover-timeout ${masterName} 5000`,
          `sentinel parallel-syncs ${masterName} 1`,
          '',
        ].join('\n'),
      );
      children.push(spawn('redis-server', [conf, '--sentinel'], { stdio: 'ignore' }));
    }
    await Promise.all(sentinelPorts.map((port) => waitForPong(port)));
    const deadline = Date.now() + 20_000;
    for (const port of sentinelPorts) {
      while (!(await run('redis-cli', ['-p', String(port), 'sentinel', 'replicas', masterName])).stdout.includes(String(replicaPort))) {
        if (Date.now() > deadline) throw new Error(`Sentinel ${port} never saw the replica`);
        await new Promise((r) => setTimeout(r, 200));
      }
    }
    return {
      masterName,
      nodes: [
        { host: '127.0.0.1', port: masterPort },
        { host: '127.0.0.1', port: replicaPort },
      ],
      master: { port: masterPort, process: master },
      replica: { port: replicaPort, process: replica },
      sentinels: sentinelPorts.map((port) => ({ host: '127.0.0.1', port })),
      stop: () => stopAll(children, dir),
    };
  } catch (error) {
    await stopAll(children, dir);
    throw error;
  }
}

/** A CA and a server certificate for 127.0.0.1/localhost, made with openssl for one test run. */
export interface TestCertificates {
  readonly dir: string;
  readonly caFile: string;
  readonly certFile: string;
  readonly keyFile: string;
  remove(): void;
}

export function makeTestCertificates(): TestCertificates {
  const dir = mkdtempSync(join(tmpdir(), 'redis-tls-'));
  const file = (name: string) => join(dir, name);
  const openssl = (...args: string[]) => execFileSync('openssl', args, { stdio: 'ignore' });
  openssl(
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    file('ca.key'),
    '-out',
    file('ca.crt'),
    '-days',
    '2',
    '-subj',
    '/CN=nest-jwt-rotation test CA',
  );
  openssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', file('server.key'), '-out', file('server.csr'), '-subj', '/CN=localhost');
  writeFileSync(file('san.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  openssl(
    'x509',
    '-req',
    '-in',
    file('server.csr'),
    '-CA',
    file('ca.crt'),
    '-CAkey',
    file('ca.key'),
    '-CAcreateserial',
    '-out',
    file('server.crt'),
    '-days',
    '2',
    '-extfile',
    file('san.ext'),
  );
  return {
    dir,
    caFile: file('ca.crt'),
    certFile: file('server.crt'),
    keyFile: file('server.key'),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** redis-server arguments for TLS only (no plain port), clients not asked for certificates. */
export function tlsArgs(certificates: TestCertificates, port: number): string[] {
  return [
    '--port',
    '0',
    '--tls-port',
    String(port),
    '--tls-cert-file',
    certificates.certFile,
    '--tls-key-file',
    certificates.keyFile,
    '--tls-ca-cert-file',
    certificates.caFile,
    '--tls-auth-clients',
    'no',
  ];
}
