// The RFC 6750 challenge is built by the HTTP transport; re-exported for code that imported it from here.
export {
  bearerChallenge,
  type BearerErrorCode,
  bearerException,
  ERROR_DESCRIPTIONS,
  setResponseHeader,
} from '../transports/www-authenticate';
