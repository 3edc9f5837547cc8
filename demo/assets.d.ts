// Stylesheets imported for their effect; esbuild bundles them into a .css next to the script.
declare module '*.css';
