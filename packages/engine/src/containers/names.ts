import { randomInt } from 'node:crypto';

// Two short word lists of our own; Docker's generator pairs an adjective with a surname likewise.
const ADJECTIVES = ['able', 'amber', 'bold', 'brave', 'bright', 'calm', 'clever', 'cosmic', 'crisp', 'eager', 'fair', 'fancy', 'gentle', 'happy', 'humble', 'jolly', 'keen', 'kind', 'lively', 'lucid', 'merry', 'nimble', 'noble', 'proud', 'quick', 'quiet', 'rapid', 'serene', 'sharp', 'steady', 'sunny', 'swift', 'tidy', 'vivid', 'warm', 'wise', 'witty', 'zen'];
const NOUNS = ['anchor', 'beacon', 'bridge', 'cable', 'canal', 'crane', 'dock', 'ferry', 'gantry', 'harbor', 'hoist', 'jetty', 'keel', 'lantern', 'mast', 'pier', 'pulley', 'quay', 'rigging', 'rudder', 'sail', 'tender', 'tugboat', 'winch', 'wharf'];

export function generateName(): string {
  return `${ADJECTIVES[randomInt(ADJECTIVES.length)]}_${NOUNS[randomInt(NOUNS.length)]}`;
}
