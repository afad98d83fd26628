import { Injectable } from '@nestjs/common';

// Time is outside I/O: inject it so tests can move it.
export abstract class Clock {
  abstract now(): Date;
}

@Injectable()
export class SystemClock extends Clock {
  now(): Date {
    return new Date();
  }
}
