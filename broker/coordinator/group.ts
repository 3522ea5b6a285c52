// One consumer group's state (classic protocol), as Kafka's GroupMetadata/MemberMetadata keep it:
// members with their supported protocols, the generation, the chosen protocol, the leader, the
// state, and the group's committed offsets. Transitions are checked against Kafka's table so a
// logic error shows up as an exception instead of a silently inconsistent group.
import type { CancelTimer } from './clock.js';
import type { CommittedOffset } from './offsets-records.js';

export type GroupState = 'Empty' | 'PreparingRebalance' | 'CompletingRebalance' | 'Stable' | 'Dead';

/** States a group may enter from, per target state (Kafka's GroupState.validPreviousStates). */
const validPreviousStates: Record<GroupState, readonly GroupState[]> = {
  Empty: ['PreparingRebalance'],
  PreparingRebalance: ['Stable', 'CompletingRebalance', 'Empty'],
  CompletingRebalance: ['PreparingRebalance'],
  Stable: ['CompletingRebalance'],
  Dead: ['Stable', 'PreparingRebalance', 'CompletingRebalance', 'Empty', 'Dead'],
};

export interface GroupProtocol {
  name: string;
  metadata: Buffer;
}

export interface JoinMember {
  memberId: string;
  groupInstanceId: string | null;
  metadata: Buffer;
}

export interface JoinResult {
  errorCode: number;
  generationId: number;
  protocolType: string | null;
  protocolName: string | null;
  leaderId: string;
  memberId: string;
  /** Filled for the leader only: every member with its metadata for the chosen protocol. */
  members: JoinMember[];
}

export interface SyncResult {
  errorCode: number;
  protocolType: string | null;
  protocolName: string | null;
  assignment: Buffer;
}

const NO_ASSIGNMENT = Buffer.alloc(0);

export class Member {
  assignment: Buffer = NO_ASSIGNMENT;
  /** Resolves the member's parked JoinGroup (set while it waits for the rebalance to complete). */
  awaitingJoin: ((result: JoinResult) => void) | null = null;
  /** Resolves the member's parked SyncGroup (set while it waits for the leader's assignment). */
  awaitingSync: ((result: SyncResult) => void) | null = null;
  /** Joined in the current rebalance for the first time (its session timer is the long new-member one). */
  isNew = false;
  expiry: CancelTimer | null = null;

  constructor(
    readonly memberId: string,
    readonly groupInstanceId: string | null,
    readonly clientId: string,
    readonly clientHost: string,
    public rebalanceTimeoutMs: number,
    public sessionTimeoutMs: number,
    readonly protocolType: string,
    public protocols: GroupProtocol[],
  ) {}

  get isStatic(): boolean {
    return this.groupInstanceId !== null;
  }

  /** Same protocols with the same metadata, in the same order. */
  matches(protocols: readonly GroupProtocol[]): boolean {
    return (
      protocols.length === this.protocols.length &&
      protocols.every((p, i) => p.name === this.protocols[i]?.name && p.metadata.equals(this.protocols[i]!.metadata))
    );
  }

  metadataFor(protocolName: string): Buffer {
    const protocol = this.protocols.find((p) => p.name === protocolName);
    if (!protocol) throw new Error(`member ${this.memberId} does not support protocol ${protocolName}`);
    return protocol.metadata;
  }

  cancelExpiry(): void {
    this.expiry?.();
    this.expiry = null;
  }
}

export class Group {
  state: GroupState = 'Empty';
  stateTimestamp: number;
  generationId = 0;
  protocolType: string | null = null;
  protocolName: string | null = null;
  leaderId: string | null = null;
  /** In join order: the first member becomes leader, as in Kafka. */
  readonly members = new Map<string, Member>();
  /** Member ids handed out with MEMBER_ID_REQUIRED and not yet used to join, with their expiry. */
  readonly pendingMembers = new Map<string, CancelTimer>();
  /** group.instance.id → member id of the static member holding it. */
  readonly staticMembers = new Map<string, string>();
  /** topic → partition → committed offset. */
  readonly offsets = new Map<string, Map<number, CommittedOffset>>();
  /** A member joined during the initial delay of a fresh group, so the delay may be extended. */
  newMemberAdded = false;
  /** The pending rebalance's timer (initial delay or rebalance timeout). */
  joinTimer: CancelTimer | null = null;
  /** A fresh group's initial delay is running: the join completes on the timer, not as soon as all joined. */
  delayingInitialJoin = false;

  constructor(
    readonly groupId: string,
    now: number,
  ) {
    this.stateTimestamp = now;
  }

  is(state: GroupState): boolean {
    return this.state === state;
  }

  transitionTo(target: GroupState, now: number): void {
    if (!validPreviousStates[target].includes(this.state)) {
      throw new Error(`group ${this.groupId}: illegal transition ${this.state} → ${target}`);
    }
    this.state = target;
    this.stateTimestamp = now;
  }

  add(member: Member): void {
    if (this.members.size === 0) this.protocolType = member.protocolType;
    this.members.set(member.memberId, member);
    if (this.leaderId === null) this.leaderId = member.memberId;
    if (member.groupInstanceId !== null) this.staticMembers.set(member.groupInstanceId, member.memberId);
  }

  remove(memberId: string): void {
    const member = this.members.get(memberId);
    if (!member) return;
    member.cancelExpiry();
    this.members.delete(memberId);
    if (member.groupInstanceId !== null && this.staticMembers.get(member.groupInstanceId) === memberId) {
      this.staticMembers.delete(member.groupInstanceId);
    }
    if (this.leaderId === memberId) this.leaderId = this.members.keys().next().value ?? null;
  }

  /** A static member id taken over by a new instance keeps its place, assignment and leadership. */
  replaceStaticMember(oldMemberId: string, newMember: Member): void {
    const old = this.members.get(oldMemberId);
    if (!old) throw new Error(`group ${this.groupId}: static member ${oldMemberId} is not in the group`);
    old.cancelExpiry();
    newMember.assignment = old.assignment;
    // Rebuild the map so the new id takes the old one's position (leader choice follows join order).
    const entries = [...this.members.entries()].map(([id, m]): [string, Member] =>
      id === oldMemberId ? [newMember.memberId, newMember] : [id, m],
    );
    this.members.clear();
    for (const [id, m] of entries) this.members.set(id, m);
    if (this.leaderId === oldMemberId) this.leaderId = newMember.memberId;
    this.staticMembers.set(newMember.groupInstanceId!, newMember.memberId);
  }

  isLeader(memberId: string): boolean {
    return this.leaderId === memberId;
  }

  /** A static instance id already held by a different member id: that caller is a zombie. */
  isStaticMemberFenced(memberId: string, groupInstanceId: string | null): boolean {
    if (groupInstanceId === null) return false;
    const holder = this.staticMembers.get(groupInstanceId);
    return holder !== undefined && holder !== memberId;
  }

  get rebalanceTimeoutMs(): number {
    let max = 0;
    for (const member of this.members.values()) max = Math.max(max, member.rebalanceTimeoutMs);
    return max;
  }

  hasAllMembersJoined(): boolean {
    for (const member of this.members.values()) if (member.awaitingJoin === null) return false;
    return this.pendingMembers.size === 0;
  }

  /** Protocols every member supports, in the order the first member prefers them. */
  private candidateProtocols(): string[] {
    const members = [...this.members.values()];
    const first = members[0];
    if (!first) return [];
    return first.protocols.map((p) => p.name).filter((name) => members.every((m) => m.protocols.some((p) => p.name === name)));
  }

  /** Whether a member with these protocols may join (Kafka's supportsProtocols). */
  supportsProtocols(protocolType: string, protocols: readonly GroupProtocol[]): boolean {
    if (this.is('Empty')) return protocolType.length > 0 && protocols.length > 0;
    if (this.protocolType !== protocolType) return false;
    const candidates = this.candidateProtocols();
    return protocols.some((p) => candidates.includes(p.name));
  }

  /** Each member votes for its most preferred protocol that all members support; most votes wins. */
  selectProtocol(): string {
    const candidates = this.candidateProtocols();
    const votes = new Map<string, number>();
    for (const member of this.members.values()) {
      const choice = member.protocols.find((p) => candidates.includes(p.name))?.name;
      if (choice !== undefined) votes.set(choice, (votes.get(choice) ?? 0) + 1);
    }
    let best: string | null = null;
    let bestVotes = -1;
    for (const name of candidates) {
      const count = votes.get(name) ?? 0;
      if (count > bestVotes) {
        best = name;
        bestVotes = count;
      }
    }
    if (best === null) throw new Error(`group ${this.groupId}: no protocol supported by all members`);
    return best;
  }

  /** When the leader did not rejoin, any member that did becomes leader (false: nobody rejoined). */
  electJoinedLeader(): boolean {
    if (this.leaderId === null) return false;
    if (this.members.get(this.leaderId)?.awaitingJoin) return true;
    for (const member of this.members.values()) {
      if (member.awaitingJoin) {
        this.leaderId = member.memberId;
        return true;
      }
    }
    return false;
  }

  /** Opens the next generation: CompletingRebalance with a chosen protocol, or Empty without members. */
  initNextGeneration(now: number): void {
    this.generationId += 1;
    if (this.members.size > 0) {
      this.protocolName = this.selectProtocol();
      this.transitionTo('CompletingRebalance', now);
    } else {
      this.protocolName = null;
      this.transitionTo('Empty', now);
    }
  }

  offset(topic: string, partition: number): CommittedOffset | undefined {
    return this.offsets.get(topic)?.get(partition);
  }

  setOffset(topic: string, partition: number, value: CommittedOffset | null): void {
    let byPartition = this.offsets.get(topic);
    if (value === null) {
      byPartition?.delete(partition);
      if (byPartition?.size === 0) this.offsets.delete(topic);
      return;
    }
    if (!byPartition) {
      byPartition = new Map();
      this.offsets.set(topic, byPartition);
    }
    byPartition.set(partition, value);
  }
}
