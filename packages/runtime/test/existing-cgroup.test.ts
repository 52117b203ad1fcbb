import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { FakeCgroupFs, openCgroup } from '../src/cgroups';
import { checkExistingCgroup } from '../src/container/create';

let tmp: string;
beforeEach(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'gantry-cgexist-'));
});
afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('a cgroup that exists before the container (runc create checks)', () => {
  for (const layout of [1, 2] as const) {
    describe(`cgroup v${layout}`, () => {
      const setup = () => {
        const fake = layout === 1 ? FakeCgroupFs.v1(path.join(tmp, 'cg')) : FakeCgroupFs.v2(path.join(tmp, 'cg'));
        return { fake, cg: openCgroup('/pre/ct', 'ct', { root: fake.root, fs: fake }) };
      };

      it('is fine when it does not exist yet or is empty and thawed', () => {
        const { cg } = setup();
        const warnings: string[] = [];
        checkExistingCgroup(cg, (m) => warnings.push(m));
        cg.create();
        checkExistingCgroup(cg, (m) => warnings.push(m));
        expect(warnings).toEqual([]);
      });

      it("is refused when frozen, with runc's message", () => {
        const { cg } = setup();
        cg.create();
        cg.freeze();
        expect(() => checkExistingCgroup(cg, () => undefined)).toThrow("container's cgroup unexpectedly frozen");
      });

      it('gives a warning when other processes are in it', () => {
        const { cg } = setup();
        cg.create();
        cg.addProcess(4242);
        const warnings: string[] = [];
        checkExistingCgroup(cg, (m) => warnings.push(m));
        expect(warnings).toEqual(["container's cgroup is not empty: 1 process(es) found"]);
      });
    });
  }
});
