import { IsString, MaxLength, MinLength } from 'class-validator';

export class CookieLoginDto {
  @IsString() @MinLength(1) @MaxLength(64) username: string;
  @IsString() @MinLength(1) @MaxLength(256) password: string;
}
