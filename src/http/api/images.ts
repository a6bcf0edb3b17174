import type { ImagePull } from '../../spawner/prePull.js';
import { sendJson } from '../respond.js';
import type { Route } from '../routes.js';

/** GET /_berth/api/images (admins): the images pulled ahead of their first berth, each with its state, last progress line or failure reason, and next retry. */
export function imageRoutes(images: () => ImagePull[]): Route[] {
  return [
    {
      method: 'GET',
      path: '/_berth/api/images',
      access: 'admin',
      handler: async ({ res }) => {
        sendJson(res, 200, {
          images: images().map((pull) => ({
            ...pull,
            at: new Date(pull.at).toISOString(),
            retryAt: pull.retryAt === null ? null : new Date(pull.retryAt).toISOString(),
          })),
        });
      },
    },
  ];
}
