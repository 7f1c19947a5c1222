/** Where "today" comes from: the calendar date in the business time zone (BUSINESS_TIME_ZONE). */
export interface Clock {
  /** `YYYY-MM-DD` */
  today(): string;
}

export function businessClock(timeZone: string, now: () => Date = () => new Date()): Clock {
  // en-CA formats a date as YYYY-MM-DD.
  const format = new Intl.DateTimeFormat('en-CA', {
    timeZone,
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
  });
  return { today: () => format.format(now()) };
}
