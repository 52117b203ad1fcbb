/** The Engine API version gantryd announces, and the oldest a client may ask for (dockerd's minimum). */
export const API_VERSION = '1.45';
export const MIN_API_VERSION = '1.24';
