/** The sign-in pages every mode with its own login serves (dev now, oidc later). */
export const LOGIN_PATH = '/_berth/login';
export const LOGOUT_PATH = '/_berth/logout';
