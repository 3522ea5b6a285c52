// What can stop the local qemu lab, as KlabErrors that say what is missing or wrong and
// what to do about it.
import { KlabError, exitCodes } from '../errors.js';

/** The machine cannot run the lab (wrong OS, not root, a tool missing). Nothing was touched. */
export class LabPrerequisiteError extends KlabError {
  constructor(missing: readonly string[], hint: string) {
    super(`klab lab cannot run here: missing ${missing.join(', ')}`, exitCodes.usage, hint);
  }
}

/** The lab folder is not in the state the command needs (no lab, a lab already, a busy port …). */
export class LabStateError extends KlabError {
  constructor(message: string, hint?: string) {
    super(message, exitCodes.usage, hint);
  }
}

/** A step of building the image or running a VM failed; the message names the step and the VM. */
export class LabOperationError extends KlabError {
  constructor(message: string, hint?: string, options?: ErrorOptions) {
    super(message, exitCodes.stageFailed, hint, options);
  }
}
