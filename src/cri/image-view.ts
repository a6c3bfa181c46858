import type { ImageGroup } from '../core/images/image-service.js';
import type { ImageConfig } from '../core/images/manifest.js';
import type { Image } from '../gen/cri/runtime/v1/Image.js';

/** The user an image runs as, as CRI reports it: a numeric uid, or else a user name. */
export function imageUser(config: ImageConfig): { uid?: string; username: string } {
  const user = (config.config.User ?? '').split(':')[0] ?? '';
  if (user === '') return { username: '' };
  if (/^\d+$/.test(user)) return { uid: user, username: '' };
  return { username: user };
}

export function toCriImage(group: ImageGroup, config: ImageConfig): Image {
  const user = imageUser(config);
  return {
    id: group.id,
    repo_tags: group.repoTags,
    repo_digests: group.repoDigests,
    size: String(group.size),
    ...(user.uid !== undefined ? { uid: { value: user.uid } } : {}),
    username: user.username,
    spec: { image: group.id, annotations: {} },
    pinned: group.pinned,
  };
}
