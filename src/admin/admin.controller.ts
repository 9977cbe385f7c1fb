import { Claims, Roles, RolesGuard } from '@app/jwt-rotation';
import { Controller, Get, UseGuards } from '@nestjs/common';

@Controller('admin')
@UseGuards(RolesGuard)
@Roles('admin')
export class AdminController {
  @Get()
  dashboard(@Claims('sub') subject: string): { admin: string } {
    return { admin: subject };
  }
}
