export { waitFor, until, type WaitOptions } from './wait';
export { isRoot, haveTool, needRoot, needTool, needFile, unmet, describeIf, itIf, type Unmet } from './requirements';
export { freePort } from './net';
export { CRASH_HOOK, runChild, crashAtEachPoint, type ChildResult, type CrashPoint } from './crash';
export { makePki, type Pki } from './certs';
export { LocalRegistry, REGISTRY_BIN, needRegistry } from './registry';
export { cgroup2Mount, needCgroup2 } from './cgroups';
export { END, GZIP_ZERO_MIB, base256, chunked, fileMember, hostileArchives, paxHeader, paxRecord, rawHeader, zeroBomb, type RawHeader } from './tar-fixtures';
export { REPO_ROOT, busyboxBundle, busyboxArchive } from './images';
