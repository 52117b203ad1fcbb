/** Platforms (os/architecture/variant) and choosing one manifest from an index for this host. */

export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
}

const ARCH: Record<string, string> = { x64: 'amd64', arm64: 'arm64', arm: 'arm', ia32: '386', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64' };

export function hostPlatform(): Platform {
  const architecture = ARCH[process.arch] ?? process.arch;
  return { os: 'linux', architecture, ...(architecture === 'arm64' ? { variant: 'v8' } : {}) };
}

/** "linux/arm64/v8" → Platform; refuses anything else with a clear error. */
export function parsePlatform(text: string): Platform {
  const parts = text.split('/');
  if (parts.length < 2 || parts.length > 3 || parts.some((p) => !/^[a-z0-9_]+$/.test(p)))
    throw new Error(`invalid platform ${JSON.stringify(text)}: want os/arch[/variant]`);
  return {
    os: parts[0]!,
    architecture: parts[1] === 'x86_64' ? 'amd64' : parts[1] === 'aarch64' ? 'arm64' : parts[1]!,
    ...(parts[2] ? { variant: parts[2] } : {}),
  };
}

export function formatPlatform(p: Platform): string {
  return `${p.os}/${p.architecture}${p.variant ? `/${p.variant}` : ''}`;
}

/** Whether an index entry's platform fits `want` (arm64's variant v8 is the default). */
export function platformMatches(entry: Partial<Platform> | undefined, want: Platform): boolean {
  if (!entry || !entry.os || !entry.architecture) return false;
  if (entry.os !== want.os || entry.architecture !== want.architecture) return false;
  const norm = (v: string | undefined) => (want.architecture === 'arm64' && (v === undefined || v === '') ? 'v8' : (v ?? ''));
  return !want.variant || norm(entry.variant) === norm(want.variant);
}
