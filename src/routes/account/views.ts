// Public shapes of rows the account routes return: database rows never leak as they are.
export { transactionRecord as publicLedgerEntry } from '../../reports/transactions.js';
