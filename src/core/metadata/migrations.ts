/**
 * Schema migrations, applied in order; never edit a released one, append.
 * Index i brings the schema from version i to i + 1.
 */
export const MIGRATIONS: readonly string[] = [
  // 1: images, snapshots, leases
  `
  CREATE TABLE images (
    name TEXT PRIMARY KEY,              -- full reference: docker.io/library/busybox:latest or …@sha256:…
    target_digest TEXT NOT NULL,        -- what the name resolved to (index or manifest)
    target_media_type TEXT NOT NULL,
    target_size INTEGER NOT NULL,
    manifest_digest TEXT NOT NULL,      -- the linux/amd64 manifest chosen from target
    config_digest TEXT NOT NULL,        -- the image id CRI reports
    size INTEGER NOT NULL,              -- bytes of manifest, config and compressed layers
    pinned INTEGER NOT NULL DEFAULT 0,
    labels TEXT NOT NULL DEFAULT '{}',
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
  );
  CREATE INDEX images_by_config ON images(config_digest);

  CREATE TABLE snapshots (
    id INTEGER PRIMARY KEY AUTOINCREMENT, -- names the directory snapshots/<id>
    key TEXT NOT NULL UNIQUE,
    parent TEXT REFERENCES snapshots(key),
    kind TEXT NOT NULL CHECK (kind IN ('active', 'view', 'committed')),
    labels TEXT NOT NULL DEFAULT '{}',
    created_at INTEGER NOT NULL
  );
  CREATE INDEX snapshots_by_parent ON snapshots(parent);

  CREATE TABLE leases (
    id TEXT PRIMARY KEY,
    created_at INTEGER NOT NULL,
    owner_pid INTEGER NOT NULL
  );
  CREATE TABLE lease_resources (
    lease_id TEXT NOT NULL REFERENCES leases(id) ON DELETE CASCADE,
    kind TEXT NOT NULL CHECK (kind IN ('content', 'snapshot', 'ingest')),
    resource TEXT NOT NULL,
    PRIMARY KEY (lease_id, kind, resource)
  );
  CREATE INDEX lease_resources_by_resource ON lease_resources(kind, resource);
  `,
  // 2: pod sandboxes and containers (timestamps in nanoseconds, as text: they exceed 2^53)
  `
  CREATE TABLE sandboxes (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,          -- reservation: <name>_<namespace>_<uid>_<attempt>
    config TEXT NOT NULL,               -- the CRI PodSandboxConfig as JSON
    runtime_handler TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('ready', 'notready')),
    netns_path TEXT NOT NULL DEFAULT '',
    ips TEXT NOT NULL DEFAULT '[]',
    pid INTEGER NOT NULL DEFAULT 0,
    image_id TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL,
    extra TEXT NOT NULL DEFAULT '{}'
  );

  CREATE TABLE containers (
    id TEXT PRIMARY KEY,
    sandbox_id TEXT NOT NULL REFERENCES sandboxes(id),
    name TEXT NOT NULL UNIQUE,          -- reservation: <name>_<pod>_<namespace>_<uid>_<attempt>
    config TEXT NOT NULL,               -- the CRI ContainerConfig as JSON
    image_id TEXT NOT NULL,
    image_ref TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('created', 'running', 'exited', 'unknown')),
    pid INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    started_at TEXT NOT NULL DEFAULT '0',
    finished_at TEXT NOT NULL DEFAULT '0',
    exit_code INTEGER NOT NULL DEFAULT 0,
    reason TEXT NOT NULL DEFAULT '',
    message TEXT NOT NULL DEFAULT '',
    log_path TEXT NOT NULL DEFAULT '',
    extra TEXT NOT NULL DEFAULT '{}'
  );
  CREATE INDEX containers_by_sandbox ON containers(sandbox_id);
  `,
];
