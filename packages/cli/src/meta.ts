/** The CLI's own version (the monorepo's; gantry releases as one). */
export const CLI_VERSION = '0.1.0';
