/** Files a daemon keeps in its data directory, which clients read to find it. */
export const API_JSON = 'api.json';
export const API_TOKEN = 'api.token';
