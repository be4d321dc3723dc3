// The reader's own code that the core and webhook snippets use: their payment client and their
// notifications.
declare global {
  const stripe: {
    refunds: { create(options: { amount: number; customer?: string }): Promise<{ id: string }> };
  };
  function refund(amount: number, customerId: string): Promise<{ id: string }>;
  function notifyUser(text: string): void;
}

export {};
