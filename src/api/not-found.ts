import { LanesError } from '../core/errors.ts';

export class NotFoundError extends LanesError {
  override name = 'NotFoundError';
  constructor(method: string, url: string) {
    super(`no route ${method} ${url.split('?')[0]}`, { code: 'NOT_FOUND' });
  }
}
