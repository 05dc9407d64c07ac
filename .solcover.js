// viaIR is needed for the gas budgets; the coverage build instruments the code and keeps the
// Yul optimizer at its minimum so the instrumented contracts still compile without stack errors.
module.exports = {
  skipFiles: ["mocks/"],
  configureYulOptimizer: true,
  irMinimum: true,
};
