import type { HandOffCodes } from '../../apps/codes.js';

/** The WebSocket subprotocol of the terminal, and the prefix of the one carrying the ticket. */
export const TERMINAL_PROTOCOL = 'berth.terminal';
const TICKET_PROTOCOL_PREFIX = 'berth.ticket.';

/**
 * Terminal tickets: single-use, a minute long, bound to the sign-in session
 * that fetched them (with its CSRF token) and to the berth they open. They
 * are the store's one-time codes (apps/codes.ts), so a ticket fetched from
 * one gateway is spent on all of them at once. A page sends its ticket as a
 * WebSocket subprotocol, never in the URL, so it reaches no log.
 */
export class TerminalTickets {
  constructor(private readonly codes: HandOffCodes) {}

  issue(sessionId: string, user: string, owner: string): Promise<string> {
    return this.codes.issue(user, purpose(sessionId, owner));
  }

  /** Whether the ticket was issued to this session and user for this berth; spent either way. */
  async redeem(ticket: string, sessionId: string, user: string, owner: string): Promise<boolean> {
    return (await this.codes.redeem(ticket, purpose(sessionId, owner))) === user;
  }
}

function purpose(sessionId: string, owner: string): string {
  return `terminal ${owner} ${sessionId}`;
}

/** The ticket among a handshake's offered subprotocols, or '' when there is none. */
export function ticketOf(protocols: string | undefined): string {
  for (const offered of (protocols ?? '').split(',')) {
    const name = offered.trim();
    if (name.startsWith(TICKET_PROTOCOL_PREFIX)) return name.slice(TICKET_PROTOCOL_PREFIX.length);
  }
  return '';
}
