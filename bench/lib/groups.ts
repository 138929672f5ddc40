// The benchmark groups, in the order they run; each runs in a child process of its own.
export const GROUPS = ['matmul', 'dense', 'conv-s1', 'conv-s2', 'maxpool', 'softmax', 'kernels', 'cnn', 'zoo', 'peers', 'threads', 'browser-threads', 'tooling'] as const;
export type GroupName = (typeof GROUPS)[number];
