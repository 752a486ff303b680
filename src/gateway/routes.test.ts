import { describe, expect, it } from 'vitest';
import type { RouteHandler } from '../http/route-handler.js';
import type { RoleParts } from './role.js';
import { type HandledRouteId, ROUTES, type RouteId } from './routes.js';

const handler: RouteHandler = async () => undefined;

describe('route table', () => {
  it('has unique ids', () => {
    const ids = ROUTES.map((r) => r.id);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it("types a role's handlers by its route ids, so a missing handler fails tsc", () => {
    // `npm run typecheck` covers this file: the directive fails it if the line ever compiles.
    // @ts-expect-error kaptcha.legacy has no handler
    const missing: RoleParts<'kaptcha'> = { handlers: { 'kaptcha.issue': handler } };
    const complete: RoleParts<'kaptcha'> = {
      handlers: { 'kaptcha.issue': handler, 'kaptcha.legacy': handler },
    };
    expect(Object.keys(missing.handlers)).toEqual(['kaptcha.issue']);
    expect(Object.keys(complete.handlers)).toEqual(['kaptcha.issue', 'kaptcha.legacy']);
  });

  it('leaves WebSocket entries out of the handlers a role must give', () => {
    const chatIds: HandledRouteId<'chat'>[] = [
      'chat.completions',
      'chat.responses',
      'chat.anthropicMessages',
      'chat.anthropicCountTokens',
      'chat.models',
      'chat.feedback',
      'chat.issue',
      'chat.extensionVersion',
    ];
    // @ts-expect-error the Socket.IO entry is served by the socket server, not a route handler
    const socket: HandledRouteId<'chat'> = 'chat.socket';
    const socketId: RouteId = 'chat.socket';
    expect(ROUTES.filter((r) => r.role === 'chat' && !('websocket' in r)).map((r) => r.id)).toEqual(chatIds);
    expect(socket).toBe(socketId);
  });
});
