export { LocalStore, type LocalRequest, type LocalResponse } from './store.js';
export { keyToFileName, validateBucket, validateKey, compareKeys } from './keys.js';
