// The StorageError an action throws, for tests that check its code and message.
import { StorageError } from '../../broker/storage/errors.js';
import { errorOf } from './thrown.js';

export function storageErrorOf(action: () => unknown): StorageError {
  return errorOf(StorageError, action);
}
