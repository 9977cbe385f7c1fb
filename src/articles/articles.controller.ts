import { Claims, Permissions, PermissionsGuard } from '@app/jwt-rotation';
import { Body, Controller, Post, UseGuards } from '@nestjs/common';
import { IsString, MaxLength } from 'class-validator';

class CreateArticleDto {
  @IsString() @MaxLength(200) title: string;
}

@Controller('articles')
@UseGuards(PermissionsGuard)
export class ArticlesController {
  @Permissions('articles:write')
  @Post()
  create(@Body() body: CreateArticleDto, @Claims('sub') author: string): { title: string; author: string } {
    return { title: body.title, author };
  }
}
