/**
 * berth's configuration: one type, its embedded defaults and its validation,
 * kept in one place. Every key is optional in the file; the defaults below
 * are what berthd runs with when no file exists.
 */
import type { RegistryHostConfig } from './registry-auth.js';

export type LogLevel = 'error' | 'warn' | 'info' | 'debug';
export type LogFormat = 'text' | 'json';
export type CgroupDriverSetting = 'auto' | 'cgroupfs' | 'systemd';

export interface RuntimeHandlerConfig {
  /** OCI runtime binary: a name looked up in PATH or an absolute path. */
  path: string;
}

export interface BerthConfig {
  root: string;
  state: string;
  address: string;
  log_level: LogLevel;
  log_format: LogFormat;
  cgroup_driver: CgroupDriverSetting;
  sandbox_image: string;
  default_runtime: string;
  /** true: volumes an image declares are left to its rootfs (containerd's option of the same name). */
  ignore_image_defined_volume: boolean;
  runtimes: Record<string, RuntimeHandlerConfig>;
  registry: {
    config_path: string;
    /** Credentials by registry host[:port], used when PullImage carries no AuthConfig. */
    configs: Record<string, RegistryHostConfig>;
  };
  cni: {
    conf_dir: string;
    bin_dirs: string[];
  };
  stream: {
    address: string;
    port: number;
    /** PEM certificate (chain) and key: both set serves https/wss, both empty plain http/ws. */
    tls_cert_file: string;
    tls_key_file: string;
  };
  metrics: {
    address: string;
  };
}

export function defaultConfig(): BerthConfig {
  return {
    root: '/var/lib/berth',
    state: '/run/berth',
    address: '/run/berth/berth.sock',
    log_level: 'info',
    log_format: 'text',
    cgroup_driver: 'auto',
    sandbox_image: 'registry.k8s.io/pause:3.10',
    default_runtime: 'runc',
    ignore_image_defined_volume: false,
    runtimes: {
      runc: { path: 'runc' },
      crun: { path: 'crun' },
    },
    registry: { config_path: '/etc/berth/certs.d', configs: {} },
    cni: { conf_dir: '/etc/cni/net.d', bin_dirs: ['/opt/cni/bin', '/usr/lib/cni'] },
    stream: { address: '127.0.0.1', port: 0, tls_cert_file: '', tls_key_file: '' },
    metrics: { address: '127.0.0.1:10361' },
  };
}

/** The default file `berthd config default` prints: every key, with a comment. */
export const DEFAULT_CONFIG_TOML = `# /etc/berth/berth.toml — every key optional; these are the embedded defaults
root = "/var/lib/berth"            # persistent state: content, snapshots, metadata.db
state = "/run/berth"               # runtime state: bundles, conmon files, netns cache
address = "/run/berth/berth.sock"  # CRI gRPC socket
log_level = "info"                 # error | warn | info | debug
log_format = "text"                # text | json
cgroup_driver = "auto"             # auto | cgroupfs | systemd
sandbox_image = "registry.k8s.io/pause:3.10"
default_runtime = "runc"
ignore_image_defined_volume = false # true: an image's VOLUMEs stay plain rootfs paths
                                    # (false: each gets a directory of its own, filled
                                    # from the image, as containerd does)

[runtimes.runc]
path = "runc"

[runtimes.crun]
path = "crun"

[registry]
config_path = "/etc/berth/certs.d" # containerd-compatible <host>/hosts.toml files

# Credentials per registry host[:port], as berth contacts it (a mirror's own host
# when pulling through one; "docker.io" stands for registry-1.docker.io), used
# when PullImage carries no AuthConfig. One form each: username and password,
# auth (base64 of "username:password"), or identitytoken (OAuth2 refresh token).
# None by default.
# [registry.configs."registry.example.com:5000".auth]
# username = "puller"
# password = "secret"

[cni]
conf_dir = "/etc/cni/net.d"
bin_dirs = ["/opt/cni/bin", "/usr/lib/cni"]

[stream]
address = "127.0.0.1"
port = 0                           # 0: any free port
tls_cert_file = ""                 # PEM certificate and key: both set serves https/wss,
tls_key_file = ""                  # both empty serves plain http/ws

[metrics]
address = "127.0.0.1:10361"        # empty string disables
`;
