// oidc-provider ships no types; the test reads only what it declares itself.
declare module 'oidc-provider';
