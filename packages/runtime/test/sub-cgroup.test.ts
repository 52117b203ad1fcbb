import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { FakeCgroupFs, openCgroup, parseSubCgroupArgs, subCgroupDir } from '../src/cgroups';

let tmp: string;
beforeEach(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'gantry-subcg-'));
});
afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('exec --cgroup (sub-cgroups of the container)', () => {
  it("parses runc's forms and refuses its invalid ones", () => {
    expect(parseSubCgroupArgs([])).toEqual(new Map());
    expect(parseSubCgroupArgs(['sub'])).toEqual(new Map([['', 'sub']]));
    expect(parseSubCgroupArgs(['memory:m', 'cpu,cpuacct:c'])).toEqual(
      new Map([
        ['memory', 'm'],
        ['cpu', 'c'],
        ['cpuacct', 'c'],
      ]),
    );
    expect(() => parseSubCgroupArgs(['a', 'b'])).toThrow(/missing <controller>: prefix/);
    expect(() => parseSubCgroupArgs([':x'])).toThrow(/empty <controller> prefix/);
    expect(() => parseSubCgroupArgs(['a:b:c'])).toThrow(/invalid --cgroup argument: a:b:c/);
    expect(() => parseSubCgroupArgs(['cpu:a', 'cpu,memory:b'])).toThrow(/controller cpu specified multiple times/);
  });

  it("stays below the container's cgroup", () => {
    expect(subCgroupDir('/cg/ct', '/')).toBe('/cg/ct');
    expect(subCgroupDir('/cg/ct', 'a/b')).toBe('/cg/ct/a/b');
    expect(() => subCgroupDir('/cg/ct', '..')).toThrow(/ \.\. is not a sub cgroup path/);
    expect(() => subCgroupDir('/cg/ct', 'a/../../ct2')).toThrow(/is not a sub cgroup path/);
  });

  it("v1: per-controller paths, the rest in the container's own cgroup", () => {
    const fake = FakeCgroupFs.v1(path.join(tmp, 'cg'), { comount: true });
    const cg = openCgroup('/ct', 'ct', { root: fake.root, fs: fake });
    cg.create();
    fs.mkdirSync(`${fake.root}/memory/ct/sub`);
    fs.writeFileSync(`${fake.root}/memory/ct/sub/cgroup.procs`, '');
    cg.addProcess(77, parseSubCgroupArgs(['memory:sub']));
    expect(fs.readFileSync(`${fake.root}/memory/ct/sub/cgroup.procs`, 'utf8').trim()).toBe('77');
    expect(fs.readFileSync(`${fake.root}/pids/ct/cgroup.procs`, 'utf8').trim()).toBe('77');
    expect(() => cg.addProcess(78, parseSubCgroupArgs(['nope']))).toThrow(
      /adding pid 78 to cgroups: open .*\/ct\/nope\/cgroup.procs: no such file or directory/,
    );
    expect(() => cg.addProcess(78, parseSubCgroupArgs(['whaaat:/']))).toThrow(/unknown controller whaaat/);
  });

  it('v2: one path for the whole tree; controller prefixes are refused', () => {
    const fake = FakeCgroupFs.v2(path.join(tmp, 'cg2'));
    const cg = openCgroup('/ct', 'ct', { root: fake.root, fs: fake });
    cg.create();
    expect(() => cg.addProcess(5, parseSubCgroupArgs(['sub']))).toThrow(/no such file or directory/);
    expect(() => cg.addProcess(5, parseSubCgroupArgs(['memory:sub']))).toThrow(/cgroup v2 has one tree/);
    cg.addProcess(5, parseSubCgroupArgs(['/']));
    expect(fs.readFileSync(`${fake.root}/ct/cgroup.procs`, 'utf8').trim()).toBe('5');
  });
});
