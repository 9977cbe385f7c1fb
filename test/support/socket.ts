import type { INestApplication } from '@nestjs/common';
import type { AddressInfo } from 'node:net';
import { io, type Socket } from 'socket.io-client';

/** Makes the app's HTTP server (and the socket.io server on it) listen on a free port; returns its URL. */
export async function listen(app: INestApplication): Promise<string> {
  const server = app.getHttpServer() as import('node:http').Server;
  if (!server.listening) await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

export interface ConnectOptions {
  token?: string;
  authorization?: string;
}

/** A socket.io client that never reconnects by itself; close it with `socket.close()`. */
export function socketTo(url: string, { token, authorization }: ConnectOptions = {}): Socket {
  return io(url, {
    transports: ['websocket'],
    reconnection: false,
    forceNew: true,
    ...(token !== undefined ? { auth: { token } } : {}),
    ...(authorization !== undefined ? { extraHeaders: { authorization } } : {}),
  });
}

export type ConnectOutcome = { connected: true } | { connected: false; message: string; data: unknown };

/** Waits for `connect` or `connect_error`. */
export function connected(socket: Socket, timeoutMs = 5000): Promise<ConnectOutcome> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no connect or connect_error in time')), timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      resolve({ connected: true });
    });
    socket.once('connect_error', (error: Error & { data?: unknown }) => {
      clearTimeout(timer);
      resolve({ connected: false, message: error.message, data: error.data });
    });
  });
}

/** Resolves with the first of: the ack of `event`, or the payload of an `exception` event. */
export function emitWithAck(
  socket: Socket,
  event: string,
  data: unknown = {},
  timeoutMs = 5000,
): Promise<{ ack?: unknown; exception?: unknown }> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ack or exception for ${event} in time`)), timeoutMs);
    const onException = (exception: unknown) => {
      clearTimeout(timer);
      resolve({ exception });
    };
    socket.once('exception', onException);
    socket.emit(event, data, (ack: unknown) => {
      clearTimeout(timer);
      socket.off('exception', onException);
      resolve({ ack });
    });
  });
}

/** Resolves with the disconnect reason, or rejects after `timeoutMs`. */
export function disconnected(socket: Socket, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the socket was not disconnected within ${timeoutMs} ms`)), timeoutMs);
    socket.once('disconnect', (reason) => {
      clearTimeout(timer);
      resolve(reason);
    });
  });
}
