import { Claims, SocketIoAuth } from '@app/jwt-rotation';
import { type OnGatewayInit, SubscribeMessage, WebSocketGateway } from '@nestjs/websockets';
import type { Server } from 'socket.io';

/**
 * socket.io on the app's own port, default path and namespace. SocketIoAuth refuses a handshake
 * without a valid token (`connect_error`) and disconnects a socket whose session is revoked;
 * JwtGuard (APP_GUARD) checks each message, so one sent after the token expired is refused.
 */
@WebSocketGateway()
export class EventsGateway implements OnGatewayInit {
  constructor(private readonly auth: SocketIoAuth) {}

  afterInit(server: Server): void {
    this.auth.bind(server);
  }

  @SubscribeMessage('whoami')
  whoami(@Claims('sub') sub: string): { sub: string } {
    return { sub };
  }
}
