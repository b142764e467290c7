import testing from './index.js';

export const { Simulator, DEFAULT_API_KEY } = testing;
export default testing;
