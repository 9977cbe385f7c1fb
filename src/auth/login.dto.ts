import { IsOptional, IsString, Matches, MaxLength, MinLength } from 'class-validator';

export class LoginDto {
  @IsString() @MinLength(1) @MaxLength(64) username: string;
  @IsString() @MinLength(1) @MaxLength(256) password: string;
  /** Short audience name; the token is valid only for routes that require it. */
  @IsOptional() @IsString() @Matches(/^[A-Za-z0-9_.:-]{1,64}$/) audience?: string;
}
