/**
 * etcd, APISIX's store: the server flags the stack runs it with, and the etcdctl commands backup
 * and restore use. One member named `etcd`; a snapshot restored with the same name and peer URL
 * starts as the same single-member cluster.
 */

export const ETCD_NAME = 'etcd';

export interface EtcdServerOptions {
  dataDir: string;
  clientUrl: string;
  advertise: string;
  peerUrl: string;
}

export function etcdServerArgs(o: EtcdServerOptions): string[] {
  return [
    `--name=${ETCD_NAME}`,
    `--data-dir=${o.dataDir}`,
    `--listen-client-urls=${o.clientUrl}`,
    `--advertise-client-urls=${o.advertise}`,
    `--listen-peer-urls=${o.peerUrl}`,
    `--initial-advertise-peer-urls=${o.peerUrl}`,
    `--initial-cluster=${ETCD_NAME}=${o.peerUrl}`,
  ];
}

/** `etcdctl` arguments that write a consistent snapshot of the keyspace to `file`. */
export function etcdSnapshotArgs(endpoint: string, file: string): string[] {
  return [`--endpoints=${endpoint}`, 'snapshot', 'save', file];
}

/** `etcdctl` arguments that turn a snapshot into a fresh data directory (which must not exist). */
export function etcdRestoreArgs(file: string, dataDir: string, peerUrl: string): string[] {
  return [
    'snapshot',
    'restore',
    file,
    `--name=${ETCD_NAME}`,
    `--data-dir=${dataDir}`,
    `--initial-cluster=${ETCD_NAME}=${peerUrl}`,
    `--initial-advertise-peer-urls=${peerUrl}`,
  ];
}
