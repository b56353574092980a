import type { Authorization, AuthorizationStatus, Order, OrderStatus } from './types.js';

// Pure status rules (RFC 8555 §7.1.6). The store keeps the statuses it wrote; what a client sees also
// depends on time, so reads pass through these functions.

export function effectiveAuthzStatus(authz: Pick<Authorization, 'status' | 'expires'>, now: Date): AuthorizationStatus {
  if ((authz.status === 'pending' || authz.status === 'valid') && authz.expires.getTime() <= now.getTime()) return 'expired';
  return authz.status;
}

/**
 * Order status from its stored status, its authorizations and the time. pending → ready happens in
 * the store in the same write that validates the last authorization; here we only add what time does.
 */
export function effectiveOrderStatus(order: Pick<Order, 'status' | 'expires'>, authzStatuses: AuthorizationStatus[], now: Date): OrderStatus {
  if (order.status === 'pending' || order.status === 'ready') {
    if (order.expires.getTime() <= now.getTime()) return 'invalid';
    if (authzStatuses.some((s) => s !== 'valid' && s !== 'pending')) return 'invalid';
    if (authzStatuses.length > 0 && authzStatuses.every((s) => s === 'valid')) return 'ready';
    return 'pending';
  }
  return order.status;
}
