// The reader's own code that the core and server snippets use: their payment client, their
// notifications, a tool they guarded elsewhere.
declare global {
  const stripe: {
    refunds: { create(options: { amount: number; customer?: string }): Promise<{ id: string }> };
  };
  function refund(amount: number, customerId: string): Promise<{ id: string }>;
  function notifyUser(text: string): void;
  const issueRefund: (args: { amount: number }) => Promise<unknown>;
}

export {};
