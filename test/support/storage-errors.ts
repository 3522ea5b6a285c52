// The StorageError an action throws, for tests that check its code and message; any other
// outcome (another error, or none) fails the test.
import { StorageError } from '../../broker/storage/errors.js';

export function storageErrorOf(action: () => unknown): StorageError {
  try {
    action();
  } catch (error) {
    if (error instanceof StorageError) return error;
    throw error;
  }
  throw new Error('expected a StorageError');
}
