import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { configSchema } from '../../src/config/schema.js';
import { imagesToPrePull } from '../../src/spawner/prePull.js';

describe('images pulled ahead: which', () => {
  it("lists the template's image, then each profile's and each choice's, once each", () => {
    const config = configSchema.parse({
      environment: { image: 'lab:1' },
      profiles: [
        { slug: 'plain', displayName: 'Plain', default: true },
        { slug: 'gpu', displayName: 'GPU', overrides: { image: 'cuda:12' } },
        {
          slug: 'course',
          displayName: 'Course',
          overrides: { image: 'lab:1' },
          options: [{ slug: 'python', displayName: 'Python', choices: [{ slug: 'old', displayName: 'Old', overrides: { image: 'lab:0' } }, { slug: 'new', displayName: 'New' }] }],
        },
      ],
    });
    assert.deepEqual(imagesToPrePull(config), ['lab:1', 'cuda:12', 'lab:0']);
  });

  it('lists nothing where no image is configured (local berths)', () => {
    assert.deepEqual(imagesToPrePull(configSchema.parse({})), []);
  });

  it("lists a profile's image even where the template names none", () => {
    const config = configSchema.parse({ profiles: [{ slug: 'big', displayName: 'Big', overrides: { image: 'big:2' } }] });
    assert.deepEqual(imagesToPrePull(config), ['big:2']);
  });
});
