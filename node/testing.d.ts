/** `postato/testing`: re-exports the `postato-testing` package (install it as a dev dependency). */
export * from 'postato-testing';
