// Log lines keep the country code and the last four digits: enough to correlate, not enough to dial.
export function maskPhone(phone: string): string {
  if (phone.length <= 6) return '*'.repeat(Math.max(0, phone.length - 2)) + phone.slice(-2);
  return phone.slice(0, 2) + '*'.repeat(phone.length - 6) + phone.slice(-4);
}
