import { type KeyInfo, KeyRotationService, Roles, RolesGuard } from '@app/jwt-rotation';
import { Controller, Delete, Get, HttpCode, NotFoundException, Param, Post, UseGuards } from '@nestjs/common';

@Controller('admin/keys')
@UseGuards(RolesGuard)
@Roles('admin')
export class KeysController {
  constructor(private readonly rotation: KeyRotationService) {}

  @Get()
  list(): Promise<KeyInfo[]> {
    return this.rotation.listKeys();
  }

  @Post('rotate')
  @HttpCode(200)
  async rotate(): Promise<{ kid: string }> {
    return { kid: await this.rotation.rotateNow() };
  }

  @Delete(':kid')
  @HttpCode(204)
  async revoke(@Param('kid') kid: string): Promise<void> {
    if (!(await this.rotation.revokeKey(kid))) throw new NotFoundException('No key has that kid');
  }
}
