/** Finding a running task's rootfs mount in /proc/self/mountinfo (gantryd with --containerd). */
import { taskRootfsMount } from '../src/containers/rootfs-access';

const ID = 'a'.repeat(64);
const line = (n: number, mountPoint: string, fs = 'overlay') =>
  `${n} 30 0:${n} / ${mountPoint} rw,relatime shared:${n} - ${fs} ${fs} rw,lowerdir=/l,upperdir=/u,workdir=/w`;

describe('taskRootfsMount', () => {
  it('finds the shim mount of that task, wherever the containerd state dir is', () => {
    const info = [
      line(1, '/'),
      line(2, `/run/other/tasks/gantry/${'b'.repeat(64)}/rootfs`),
      line(3, `/run/gantry containerd/tasks/gantry/${ID}/rootfs`.replace(' ', '\\040')),
      '',
    ].join('\n');
    expect(taskRootfsMount(info, ID)).toBe(`/run/gantry containerd/tasks/gantry/${ID}/rootfs`);
  });

  it('takes the last (topmost) of several, and nothing for another namespace or no mount', () => {
    const info = [line(1, `/a/tasks/gantry/${ID}/rootfs`), line(2, `/b/tasks/gantry/${ID}/rootfs`)].join('\n');
    expect(taskRootfsMount(info, ID)).toBe(`/b/tasks/gantry/${ID}/rootfs`);
    expect(taskRootfsMount(line(1, `/a/tasks/moby/${ID}/rootfs`), ID)).toBeUndefined();
    expect(taskRootfsMount('', ID)).toBeUndefined();
  });
});
