import * as fs from 'node:fs';

/**
 * The file operations the cgroup managers need. cgroupfs is not an ordinary file system (mkdir
 * creates control files, rmdir removes a directory that still "contains" them, every write() is
 * one command), so tests substitute an emulation of those rules over a temp dir.
 */
export interface CgroupFs {
  readFile(path: string): string;
  /** One write() of `data` to an existing file; never creates the file (ENOENT if absent). */
  writeFile(path: string, data: string): void;
  exists(path: string): boolean;
  /** Create one directory level; throws EEXIST/ENOENT like mkdir(2). */
  mkdir(path: string): void;
  /** rmdir(2): removes one cgroup directory, EBUSY while it has tasks or children. */
  rmdir(path: string): void;
  /** Names of the subdirectories (child cgroups) of `path`. */
  subdirs(path: string): string[];
  /** Names of all entries of `path`. */
  entries(path: string): string[];
  realpath(path: string): string;
  /** True only for a directory on a cgroup (v1 or v2) file system: destroy() removes nothing else. */
  isCgroupDir(path: string): boolean;
}

const CGROUP_SUPER_MAGIC = 0x27e0eb;
const CGROUP2_SUPER_MAGIC = 0x63677270;

/** The real cgroupfs through synchronous node:fs. */
export const nodeCgroupFs: CgroupFs = {
  readFile: (p) => fs.readFileSync(p, 'utf8'),
  writeFile(p, data) {
    // O_WRONLY without O_CREAT/O_RDWR: some control files are write-only, none may be created.
    const fd = fs.openSync(p, fs.constants.O_WRONLY);
    try {
      fs.writeSync(fd, data);
    } finally {
      fs.closeSync(fd);
    }
  },
  exists: (p) => fs.existsSync(p),
  mkdir: (p) => fs.mkdirSync(p, { mode: 0o755 }),
  rmdir: (p) => fs.rmdirSync(p),
  subdirs: (p) =>
    fs
      .readdirSync(p, { withFileTypes: true })
      .filter((e) => e.isDirectory())
      .map((e) => e.name),
  entries: (p) => fs.readdirSync(p),
  realpath: (p) => fs.realpathSync(p),
  isCgroupDir(p) {
    try {
      if (!fs.lstatSync(p).isDirectory()) return false;
      const type = fs.statfsSync(p).type;
      return type === CGROUP_SUPER_MAGIC || type === CGROUP2_SUPER_MAGIC;
    } catch {
      return false;
    }
  },
};
